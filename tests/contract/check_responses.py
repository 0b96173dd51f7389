#!/usr/bin/env python3
"""Sends known requests to a running token endpoint and checks every real answer against
openapi.yaml: the status is one the operation declares, each declared header is there and
matches its schema, the Content-Type is a declared one and the body validates against its
schema (or is empty where none is declared). Each case also states the status and error code
it expects, and for requests with a body, whether the spec itself calls that body valid.

Also validates every example in the spec against its own schema.

    check_responses.py --spec openapi.yaml --base-url http://127.0.0.1:9000

Prints one line per case and a closing `N passed, N failed`; exits 1 on any failure.
Standard library plus jsonschema and PyYAML only (JWT signatures are checked with a few lines
of RSA arithmetic against the published key set).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:token-endpoint:openapi"
CLIENT = ("demo-client", "demo-secret")
# The memory store's client of JWT access tokens.
JWT_CLIENT = ("demo-jwt-client", "demo-jwt-secret")
USER = ("demo", "demo-password")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_BODY = 64 * 1024


# ---- the spec ---------------------------------------------------------------------------


def pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Spec:
    def __init__(self, path: str) -> None:
        with open(path, encoding="utf-8") as file:
            self.doc: dict[str, Any] = yaml.safe_load(file)
        resource = Resource(contents=self.doc, specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)

    def at(self, pointer: str) -> Any:
        node: Any = self.doc
        for token in pointer.lstrip("/").split("/"):
            if token == "":
                continue
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[token]
        return node

    def deref(self, pointer: str) -> tuple[str, Any]:
        """Follows OpenAPI `$ref`s (responses, headers) to the object and its pointer."""
        node = self.at(pointer)
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            reference = node["$ref"]
            if not reference.startswith("#/") or reference in seen:
                raise ValueError(f"unsupported reference {reference!r} at {pointer}")
            seen.add(reference)
            pointer = reference[1:]
            node = self.at(pointer)
        return pointer, node

    def validator(self, schema_pointer: str) -> jsonschema.protocols.Validator:
        return jsonschema.Draft202012Validator(
            {"$ref": f"{SPEC_URI}#{schema_pointer}"},
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )

    def errors(self, schema_pointer: str, instance: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in self.validator(schema_pointer).iter_errors(instance)
        ]

    def spec_path(self, request_path: str) -> str | None:
        """The spec's path for a request path; the slash-less aliases map to their path."""
        paths = self.doc["paths"]
        if request_path in paths:
            return request_path
        if request_path + "/" in paths and request_path.startswith("/o/"):
            return request_path + "/"
        return None


# ---- requests and cases -----------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    body: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = CLIENT
    error: str | None = None
    # The body's fields, checked against the operation's request schema: True must validate,
    # False must not, None: not checked (malformed bodies, bodies of other methods).
    fields: dict[str, Any] | None = None
    valid_request: bool | None = None
    then: Callable[[Reply], list[str]] | None = None


def basic_header(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form_case(name: str, path: str, fields: dict[str, str], status: int, **kwargs: Any) -> Case:
    body = urllib.parse.urlencode(fields).encode()
    kwargs.setdefault("valid_request", True if status == 200 else None)
    return Case(name, "POST", path, status, body=body, content_type=FORM, fields=fields, **kwargs)


def json_case(name: str, path: str, fields: Any, status: int, **kwargs: Any) -> Case:
    body = json.dumps(fields).encode()
    kwargs.setdefault("valid_request", True if status == 200 else None)
    return Case(name, "POST", path, status, body=body, content_type=JSON, fields=fields, **kwargs)


class Client:
    def __init__(self, base_url: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise SystemExit(f"--base-url must be http://HOST:PORT, not {base_url!r}")
        self.host, self.port = parsed.hostname, parsed.port

    def send(self, case: Case) -> Reply:
        headers = dict(case.headers)
        if case.basic is not None:
            headers.setdefault("Authorization", basic_header(*case.basic))
        if case.content_type is not None:
            headers["Content-Type"] = case.content_type
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            skip_host = "Host" in headers
            connection.putrequest(case.method, case.path, skip_host=skip_host, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            body = case.body
            if body is not None or case.method == "POST":
                connection.putheader("Content-Length", str(len(body or b"")))
            connection.endheaders()
            if body:
                try:
                    connection.send(body)
                except (BrokenPipeError, ConnectionResetError):
                    # The server may answer (413) and close before reading all of a large body.
                    pass
            response = connection.getresponse()
            data = response.read()
            return Reply(response.status, response.headers, data)
        finally:
            connection.close()


# ---- checking an answer against the spec ---------------------------------------------------


def coerce_header(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    return value


def conformance(spec: Spec, case: Case, reply: Reply) -> list[str]:
    """Everything about `reply` that contradicts openapi.yaml."""
    problems: list[str] = []
    request_path = case.path.split("?", 1)[0]
    path = spec.spec_path(request_path)
    if path is None:
        return [f"{request_path} is not a path of the spec"]
    path_item = spec.doc["paths"][path]
    method = case.method.lower()
    operation_pointer = f"/paths/{pointer_escape(path)}/{method}"
    if method not in path_item:
        # A method the path does not declare: its one answer, 405, is documented on the
        # path's declared operation (OpenAPI cannot attach it to an undeclared method).
        if reply.status != 405:
            problems.append(f"undeclared method {case.method} answered {reply.status}, not 405")
        declaring = [m for m in ("post", "get") if m in path_item and "405" in path_item[m]["responses"]]
        if not declaring:
            return problems + [f"no operation on {path} documents 405"]
        operation_pointer = f"/paths/{pointer_escape(path)}/{declaring[0]}"
    responses = spec.at(operation_pointer + "/responses")
    status = str(reply.status)
    if status not in responses:
        return problems + [f"status {status} is not declared for {case.method} {path} (declared: {', '.join(responses)})"]
    response_pointer, response = spec.deref(f"{operation_pointer}/responses/{status}")

    for name, _ in (response.get("headers") or {}).items():
        header_pointer, header = spec.deref(f"{response_pointer}/headers/{pointer_escape(name)}")
        value = reply.header(name)
        if value is None:
            if header.get("required"):
                problems.append(f"required header {name} is missing")
            continue
        schema = header.get("schema", {})
        for error in spec.errors(f"{header_pointer}/schema", coerce_header(value, schema)):
            problems.append(f"header {name}: {value!r}: {error}")

    content = response.get("content") or {}
    content_type = reply.header("Content-Type")
    is_head = case.method == "HEAD"
    if not content:
        if reply.body:
            problems.append(f"body {reply.body[:200]!r} where the spec declares none")
        if content_type is not None and not is_head:
            problems.append(f"Content-Type {content_type!r} where the spec declares no content")
        return problems
    if is_head:
        if reply.body:
            problems.append("HEAD answered with a body")
        return problems
    if content_type is None:
        return problems + ["no Content-Type, the spec declares " + ", ".join(content)]
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence not in content:
        return problems + [f"Content-Type {content_type!r} is not declared ({', '.join(content)})"]
    media = content[essence]
    if "schema" not in media:
        return problems
    try:
        instance = json.loads(reply.body)
    except ValueError as error:
        return problems + [f"body is not JSON ({error}): {reply.body[:200]!r}"]
    schema_pointer = f"{response_pointer}/content/{pointer_escape(essence)}/schema"
    for error in spec.errors(schema_pointer, instance):
        problems.append(f"body {instance!r}: {error}")
    return problems


def request_validity(spec: Spec, case: Case) -> list[str]:
    """Whether the spec agrees that the request's body is (in)valid."""
    if case.valid_request is None or case.fields is None or case.content_type is None:
        return []
    path = spec.spec_path(case.path.split("?", 1)[0])
    if path is None:
        return []
    essence = case.content_type.split(";", 1)[0].strip().lower()
    pointer = f"/paths/{pointer_escape(path)}/{case.method.lower()}/requestBody/content/{pointer_escape(essence)}/schema"
    try:
        spec.at(pointer)
    except KeyError:
        return [f"the spec declares no {essence} body for {case.method} {path}"]
    errors = spec.errors(pointer, case.fields)
    if case.valid_request and errors:
        return ["the spec calls this request invalid: " + "; ".join(errors)]
    if not case.valid_request and not errors:
        return ["the spec calls this request valid"]
    return []


def expectations(case: Case, reply: Reply) -> list[str]:
    problems = []
    if reply.status != case.status:
        problems.append(f"expected status {case.status}, got {reply.status}: {reply.body[:300]!r}")
    if case.error is not None and reply.status >= 400 and case.method != "HEAD":
        try:
            code = reply.json().get("error")
        except (ValueError, AttributeError):
            code = None
        if code != case.error:
            problems.append(f"expected error {case.error!r}, got {code!r}")
    return problems


# ---- the cases ------------------------------------------------------------------------------


class Run:
    def __init__(self, spec: Spec, client: Client) -> None:
        self.spec, self.client = spec, client
        self.passed = 0
        self.failed = 0

    def check(self, case: Case) -> Reply | None:
        try:
            reply = self.client.send(case)
        except OSError as error:
            self.fail(case, [f"request failed: {error}"])
            return None
        problems = expectations(case, reply) + conformance(self.spec, case, reply) + request_validity(self.spec, case)
        if case.then is not None and not problems:
            problems += case.then(reply)
        if problems:
            self.fail(case, problems)
        else:
            self.passed += 1
            print(f"ok    {reply.status} {case.method} {case.path}: {case.name}")
        return reply

    def fail(self, case: Case, problems: list[str]) -> None:
        self.failed += 1
        print(f"FAIL  {case.method} {case.path}: {case.name}")
        for problem in problems:
            print(f"        {problem}")

    def token(self, case: Case) -> dict[str, Any]:
        reply = self.check(case)
        if reply is None or reply.status != 200:
            return {}
        return reply.json()


def expect(condition: bool, message: str) -> list[str]:
    return [] if condition else [message]


def body_equals(expected: Any) -> Callable[[Reply], list[str]]:
    return lambda reply: expect(reply.json() == expected, f"body {reply.json()!r} is not {expected!r}")


def description_is(text: str) -> Callable[[Reply], list[str]]:
    def check(reply: Reply) -> list[str]:
        got = reply.json().get("error_description")
        return expect(got == text, f"error_description {got!r} is not {text!r}")

    return check


def token_cases(run: Run) -> dict[str, dict[str, Any]]:
    T = "/o/token/"
    password = {"grant_type": "password", "username": USER[0], "password": USER[1]}
    issued: dict[str, dict[str, Any]] = {}

    def has_refresh(present: bool, scope: str | None = None) -> Callable[[Reply], list[str]]:
        def check(reply: Reply) -> list[str]:
            body = reply.json()
            problems = expect(("refresh_token" in body) == present, f"refresh_token present: {'refresh_token' in body}")
            if scope is not None:
                problems += expect(body.get("scope") == scope, f"scope {body.get('scope')!r} is not {scope!r}")
            return problems

        return check

    issued["password"] = run.token(form_case("password grant, form, Basic", T, password, 200, then=has_refresh(True, "read write")))
    issued["json"] = run.token(json_case("password grant, JSON, scope=read", T, {**password, "scope": "read"}, 200, then=has_refresh(True, "read")))
    run.check(json_case("password grant, JSON, null scope counts as omitted", T, {**password, "scope": None}, 200, then=has_refresh(True, "read write")))
    run.token(form_case("password grant at /o/token (no trailing slash)", "/o/token", password, 200))
    run.check(
        form_case(
            "password grant, client_secret_post",
            T,
            {**password, "client_id": CLIENT[0], "client_secret": CLIENT[1]},
            200,
            basic=None,
        )
    )
    run.check(form_case("password grant, same client in header and body", T, {**password, "client_id": CLIENT[0]}, 200))
    issued["client"] = run.token(
        form_case("client_credentials grant", T, {"grant_type": "client_credentials", "scope": "read"}, 200, then=has_refresh(False, "read"))
    )
    run.check(
        json_case(
            "client_credentials grant, JSON, client_secret_post",
            T,
            {"grant_type": "client_credentials", "client_id": CLIENT[0], "client_secret": CLIENT[1]},
            200,
            basic=None,
            then=has_refresh(False),
        )
    )
    refresh_token = issued["json"].get("refresh_token", "missing")
    issued["refreshed"] = run.token(
        form_case(
            "refresh_token grant",
            T,
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            200,
            then=has_refresh(True, "read"),
        )
    )
    run.check(
        form_case(
            "refresh_token grant, unknown token",
            T,
            {"grant_type": "refresh_token", "refresh_token": "A" * 30},
            400,
            error="invalid_grant",
            valid_request=True,
            then=lambda r: expect("error_description" not in r.json(), "invalid refresh token has a description"),
        )
    )
    run.check(
        form_case(
            "refresh_token grant, wider scope than the grant",
            T,
            {"grant_type": "refresh_token", "refresh_token": issued["refreshed"].get("refresh_token", "x"), "scope": "read write"},
            400,
            error="invalid_scope",
            valid_request=True,
        )
    )

    # invalid_request
    for name, fields, description in [
        ("missing grant_type", {"username": USER[0], "password": USER[1]}, "Request is missing grant_type parameter."),
        ("empty grant_type", {"grant_type": "", "username": USER[0]}, "Request is missing grant_type parameter."),
        ("missing username", {"grant_type": "password", "password": USER[1]}, "Request is missing username parameter."),
        ("missing password", {"grant_type": "password", "username": USER[0]}, "Request is missing password parameter."),
        ("empty password", {"grant_type": "password", "username": USER[0], "password": ""}, "Request is missing password parameter."),
        ("missing refresh_token", {"grant_type": "refresh_token"}, "Missing refresh token parameter."),
    ]:
        run.check(form_case(name, T, fields, 400, error="invalid_request", valid_request=False, then=description_is(description)))
    run.check(
        Case(
            "repeated scope parameter",
            "POST",
            T,
            400,
            body=b"grant_type=password&username=demo&password=demo-password&scope=read&scope=write",
            content_type=FORM,
            error="invalid_request",
            then=description_is("Duplicate scope parameter."),
        )
    )
    run.check(form_case("over-long username", T, {**password, "username": "u" * 4097}, 400, error="invalid_request", valid_request=False))
    run.check(form_case("query string on the URL", T + "?grant_type=password", password, 400, error="invalid_request"))
    run.check(
        Case("unsupported Content-Type", "POST", T, 400, body=b"grant_type=password", content_type="text/plain", error="invalid_request")
    )
    run.check(
        Case(
            "multipart body",
            "POST",
            T,
            400,
            body=b'--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\npassword\r\n--x--\r\n',
            content_type="multipart/form-data; boundary=x",
            error="invalid_request",
        )
    )
    run.check(Case("malformed JSON", "POST", T, 400, body=b'{"grant_type": ', content_type=JSON, error="invalid_request"))
    run.check(json_case("JSON array body", T, ["grant_type", "password"], 400, error="invalid_request", valid_request=False))
    run.check(json_case("JSON number as password", T, {**password, "password": 1234}, 400, error="invalid_request", valid_request=False))
    run.check(
        Case("body not UTF-8", "POST", T, 400, body=b"grant_type=password&username=%FF%FE&password=x", content_type=FORM, error="invalid_request")
    )
    run.check(
        form_case(
            "malformed Basic header",
            T,
            password,
            400,
            basic=None,
            headers={"Authorization": "Basic !!!"},
            error="invalid_request",
            valid_request=True,
        )
    )
    run.check(
        form_case(
            "Basic header and body name different clients",
            T,
            {**password, "client_id": "someone-else"},
            400,
            error="invalid_request",
            valid_request=True,
        )
    )
    # other 400s
    run.check(
        form_case(
            "unsupported grant type",
            T,
            {"grant_type": "authorization_code", "code": "x"},
            400,
            error="unsupported_grant_type",
            valid_request=False,
            then=lambda r: expect(r.json() == {"error": "unsupported_grant_type"}, f"body {r.json()!r}"),
        )
    )
    run.check(form_case("invalid scope", T, {**password, "scope": "admin"}, 400, error="invalid_scope", valid_request=True))
    credentials_error = {"error": "invalid_grant", "error_description": "Invalid credentials given."}
    run.check(
        form_case("wrong password", T, {**password, "password": "wrong"}, 400, error="invalid_grant", valid_request=True, then=body_equals(credentials_error))
    )
    run.check(
        form_case("unknown user", T, {**password, "username": "nobody"}, 400, error="invalid_grant", valid_request=True, then=body_equals(credentials_error))
    )
    # 401
    for name, basic, headers in [
        ("no client credentials", None, {}),
        ("wrong client secret", (CLIENT[0], "wrong"), {}),
        ("unknown client", ("nobody", "secret"), {}),
        ("Bearer is not client authentication", None, {"Authorization": "Bearer abc"}),
    ]:
        run.check(
            form_case(name, T, password, 401, basic=basic, headers=headers, error="invalid_client", valid_request=True, then=body_equals({"error": "invalid_client"}))
        )
    run.check(
        form_case("client_secret_post with a wrong secret", T, {**password, "client_id": CLIENT[0], "client_secret": "x"}, 401, basic=None, error="invalid_client", valid_request=True)
    )
    # 405, OPTIONS, 413
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        run.check(Case(f"{method} is not allowed", method, T, 405, error="invalid_request", then=allow_is("POST, OPTIONS")))
    run.check(Case("HEAD is not allowed", "HEAD", T, 405, then=allow_is("POST, OPTIONS")))
    run.check(Case("GET /o/token is not allowed", "GET", "/o/token", 405, error="invalid_request"))
    run.check(Case("OPTIONS", "OPTIONS", T, 200, basic=None, then=allow_is("POST, OPTIONS")))
    run.check(
        Case(
            "body over 64 KiB",
            "POST",
            T,
            413,
            body=urllib.parse.urlencode({**password, "pad": "a" * MAX_BODY}).encode(),
            content_type=FORM,
            error="invalid_request",
        )
    )
    return issued


def allow_is(expected: str) -> Callable[[Reply], list[str]]:
    return lambda reply: expect(reply.header("Allow") == expected, f"Allow {reply.header('Allow')!r} is not {expected!r}")


def introspection_cases(run: Run, issued: dict[str, dict[str, Any]]) -> None:
    I = "/o/introspect/"
    access = issued.get("password", {}).get("access_token", "missing")

    def active(username: str | None) -> Callable[[Reply], list[str]]:
        def check(reply: Reply) -> list[str]:
            body = reply.json()
            problems = expect(body.get("active") is True, f"not active: {body!r}")
            problems += expect(body.get("client_id") == CLIENT[0], f"client_id {body.get('client_id')!r}")
            problems += expect(body.get("username") == username, f"username {body.get('username')!r} is not {username!r}")
            return problems

        return check

    run.check(form_case("a user's live access token", I, {"token": access}, 200, then=active(USER[0])))
    run.check(
        json_case(
            "a client credentials token, JSON, client_secret_post",
            I,
            {"token": issued.get("client", {}).get("access_token", "x"), "client_id": CLIENT[0], "client_secret": CLIENT[1]},
            200,
            basic=None,
            then=active(None),
        )
    )
    run.check(form_case("at /o/introspect (no trailing slash)", "/o/introspect", {"token": access}, 200, then=active(USER[0])))
    inactive = body_equals({"active": False})
    run.check(form_case("an unknown token", I, {"token": "B" * 30}, 200, then=inactive))
    run.check(form_case("a malformed token", I, {"token": "not a token!"}, 200, then=inactive))
    run.check(form_case("a refresh token", I, {"token": issued.get("password", {}).get("refresh_token", "x")}, 200, then=inactive))
    run.check(form_case("a used refresh token's access token", I, {"token": issued.get("json", {}).get("access_token", "x")}, 200, then=inactive))
    run.check(
        form_case("missing token", I, {"token_type_hint": "access_token"}, 400, error="invalid_request", valid_request=False, then=description_is("Missing token parameter."))
    )
    run.check(form_case("query string on the URL", I + "?token=x", {"token": access}, 400, error="invalid_request"))
    run.check(form_case("no client credentials", I, {"token": access}, 401, basic=None, error="invalid_client", valid_request=True))
    run.check(form_case("wrong client secret", I, {"token": access}, 401, basic=(CLIENT[0], "nope"), error="invalid_client", valid_request=True))
    run.check(Case("GET is not allowed", "GET", I, 405, error="invalid_request", then=allow_is("POST, OPTIONS")))
    run.check(Case("OPTIONS", "OPTIONS", I, 200, basic=None, then=allow_is("POST, OPTIONS")))
    run.check(
        Case("body over 64 KiB", "POST", I, 413, body=b"token=" + b"a" * MAX_BODY, content_type=FORM, error="invalid_request")
    )


def revocation_cases(run: Run, issued: dict[str, dict[str, Any]]) -> None:
    R = "/o/revoke_token/"
    run.check(form_case("an unknown token", R, {"token": "C" * 30, "token_type_hint": "access_token"}, 200))
    run.check(form_case("a malformed token, any hint", R, {"token": "%%%", "token_type_hint": "whatever"}, 200))
    refreshed = issued.get("refreshed", {})
    run.check(form_case("a live refresh token", R, {"token": refreshed.get("refresh_token", "x"), "token_type_hint": "refresh_token"}, 200))
    run.check(
        form_case(
            "its access token is revoked with it",
            "/o/introspect/",
            {"token": refreshed.get("access_token", "x")},
            200,
            then=body_equals({"active": False}),
        )
    )
    run.check(form_case("the same token again", R, {"token": refreshed.get("refresh_token", "x")}, 200))
    run.check(
        json_case(
            "a live access token, JSON, client_secret_post",
            R,
            {"token": issued.get("client", {}).get("access_token", "x"), "client_id": CLIENT[0], "client_secret": CLIENT[1]},
            200,
            basic=None,
        )
    )
    run.check(form_case("at /o/revoke_token (no trailing slash)", "/o/revoke_token", {"token": "D" * 30}, 200))
    run.check(form_case("missing token", R, {}, 400, error="invalid_request", valid_request=False, then=description_is("Missing token parameter.")))
    run.check(Case("repeated token", "POST", R, 400, body=b"token=a&token=b", content_type=FORM, error="invalid_request", then=description_is("Duplicate token parameter.")))
    run.check(json_case("token is not a string", R, {"token": ["x"]}, 400, error="invalid_request", valid_request=False))
    run.check(form_case("no client credentials", R, {"token": "E" * 30}, 401, basic=None, error="invalid_client", valid_request=True))
    run.check(form_case("unknown client", R, {"token": "E" * 30}, 401, basic=("nobody", "x"), error="invalid_client", valid_request=True))
    run.check(Case("DELETE is not allowed", "DELETE", R, 405, error="invalid_request", then=allow_is("POST, OPTIONS")))
    run.check(Case("OPTIONS", "OPTIONS", R, 200, basic=None, then=allow_is("POST, OPTIONS")))
    run.check(Case("body over 64 KiB", "POST", R, 413, body=b"token=" + b"a" * MAX_BODY, content_type=FORM, error="invalid_request"))


def metadata_cases(run: Run, base_url: str) -> None:
    M = "/.well-known/oauth-authorization-server"
    origin = base_url.rstrip("/")

    def document(issuer: str) -> Callable[[Reply], list[str]]:
        def check(reply: Reply) -> list[str]:
            body = reply.json()
            problems = expect(body.get("issuer") == issuer, f"issuer {body.get('issuer')!r} is not {issuer!r}")
            for key, path in [("token_endpoint", "/o/token/"), ("revocation_endpoint", "/o/revoke_token/"), ("introspection_endpoint", "/o/introspect/")]:
                problems += expect(body.get(key) == issuer + path, f"{key} {body.get(key)!r}")
            return problems

        return check

    run.check(Case("the document", "GET", M, 200, basic=None, then=document(origin)))
    run.check(Case("behind API Gateway (X-Forwarded-Proto: https)", "GET", M, 200, basic=None, headers={"X-Forwarded-Proto": "https", "Host": "auth.example.com"}, then=document("https://auth.example.com")))
    run.check(Case("with client credentials, which it ignores", "GET", M, 200, then=document(origin)))
    run.check(Case("HEAD", "HEAD", M, 200, basic=None))
    run.check(Case("OPTIONS", "OPTIONS", M, 200, basic=None, then=allow_is("GET, HEAD, OPTIONS")))
    run.check(Case("Host with user information", "GET", M, 400, basic=None, headers={"Host": "user@example.com"}, error="invalid_request"))
    run.check(Case("POST is not allowed", "POST", M, 405, basic=None, body=b"", error="invalid_request", then=allow_is("GET, HEAD, OPTIONS")))
    run.check(Case("DELETE is not allowed", "DELETE", M, 405, basic=None, error="invalid_request", then=allow_is("GET, HEAD, OPTIONS")))


def discovery_cases(run: Run, base_url: str) -> list[dict[str, Any]]:
    """The OpenID discovery document and the key set; answers the published keys."""
    O = "/.well-known/openid-configuration"
    K = "/.well-known/jwks.json"
    origin = base_url.rstrip("/")
    metadata = run.client.send(Case("", "GET", "/.well-known/oauth-authorization-server", 200, basic=None))

    def same_document(reply: Reply) -> list[str]:
        body = reply.json()
        problems = expect(body.get("issuer") == origin, f"issuer {body.get('issuer')!r} is not {origin!r}")
        problems += expect(body.get("jwks_uri") == origin + K, f"jwks_uri {body.get('jwks_uri')!r}")
        problems += expect(reply.body == metadata.body, "not the RFC 8414 document, byte for byte")
        return problems

    run.check(Case("the document, as at oauth-authorization-server", "GET", O, 200, basic=None, then=same_document))
    run.check(Case("HEAD", "HEAD", O, 200, basic=None))
    run.check(Case("OPTIONS", "OPTIONS", O, 200, basic=None, then=allow_is("GET, HEAD, OPTIONS")))
    run.check(Case("POST is not allowed", "POST", O, 405, basic=None, body=b"", error="invalid_request", then=allow_is("GET, HEAD, OPTIONS")))

    def has_keys(reply: Reply) -> list[str]:
        return expect(len(reply.json().get("keys", [])) > 0, "no key published (make run signs JWTs for demo-jwt-client)")

    reply = run.check(Case("the key set", "GET", K, 200, basic=None, then=has_keys))
    run.check(Case("HEAD", "HEAD", K, 200, basic=None))
    run.check(Case("OPTIONS", "OPTIONS", K, 200, basic=None, then=allow_is("GET, HEAD, OPTIONS")))
    run.check(Case("DELETE is not allowed", "DELETE", K, 405, basic=None, error="invalid_request", then=allow_is("GET, HEAD, OPTIONS")))
    if reply is None or reply.status != 200:
        return []
    return list(reply.json().get("keys", []))


# ---- JWT access tokens -----------------------------------------------------------------------

# RFC 8017 §9.2: the DER prefix of a SHA-256 DigestInfo.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rs256_verifies(signing_input: bytes, signature: bytes, jwk: dict[str, Any]) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2), with the standard library only."""
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    size = (n.bit_length() + 7) // 8
    value = int.from_bytes(signature, "big")
    if len(signature) != size or value >= n:
        return False
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(pow(value, e, n).to_bytes(size, "big"), expected)


def jwt_is(keys: list[dict[str, Any]], claims: dict[str, Any]) -> Callable[[Reply], list[str]]:
    """The answer's access token is an RFC 9068 JWT, signed by a published key, with `claims`;
    its refresh token (if any) stays opaque."""

    def check(reply: Reply) -> list[str]:
        body = reply.json()
        token = body.get("access_token", "")
        parts = token.split(".")
        if len(parts) != 3:
            return [f"access_token is not a JWT: {token[:40]!r}"]
        try:
            header = json.loads(b64url_decode(parts[0]))
            payload = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError as error:
            return [f"the JWT does not decode: {error}"]
        problems = expect(header.get("alg") == "RS256" and header.get("typ") == "at+jwt", f"header {header!r}")
        key = next((key for key in keys if key.get("kid") == header.get("kid")), None)
        if key is None:
            return problems + [f"kid {header.get('kid')!r} is not in /.well-known/jwks.json"]
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        problems += expect(rs256_verifies(signing_input, signature, key), "the signature does not verify under the published key")
        for name, value in claims.items():
            problems += expect(payload.get(name) == value, f"claim {name} {payload.get(name)!r} is not {value!r}")
        for name in ("exp", "iat", "jti"):
            problems += expect(name in payload, f"no {name} claim: {payload!r}")
        if isinstance(payload.get("exp"), int) and isinstance(payload.get("iat"), int):
            lifetime = payload["exp"] - payload["iat"]
            problems += expect(lifetime == body.get("expires_in"), f"exp - iat = {lifetime}, expires_in {body.get('expires_in')}")
        if "refresh_token" in body:
            problems += expect(re.fullmatch(r"[A-Za-z0-9]{22}\.[A-Za-z0-9]{30}", body["refresh_token"]) is not None, "the refresh token is not opaque")
        return problems

    return check


def jwt_cases(run: Run, base_url: str, keys: list[dict[str, Any]]) -> None:
    T, I, R = "/o/token/", "/o/introspect/", "/o/revoke_token/"
    origin = base_url.rstrip("/")
    password = {"grant_type": "password", "username": USER[0], "password": USER[1]}
    user_claims = {"iss": origin, "aud": origin, "sub": USER[0], "client_id": JWT_CLIENT[0], "scope": "read write"}
    login = run.token(form_case("JWT client: password grant", T, password, 200, basic=JWT_CLIENT, then=jwt_is(keys, user_claims)))
    run.check(
        json_case(
            "JWT client: client credentials, JSON, client_secret_post",
            T,
            {"grant_type": "client_credentials", "scope": "read", "client_id": JWT_CLIENT[0], "client_secret": JWT_CLIENT[1]},
            200,
            basic=None,
            then=jwt_is(keys, {"iss": origin, "aud": origin, "sub": JWT_CLIENT[0], "client_id": JWT_CLIENT[0], "scope": "read"}),
        )
    )
    run.check(form_case("JWT client: resource naming the default audience", T, {**password, "resource": origin}, 200, basic=JWT_CLIENT, then=jwt_is(keys, user_claims)))
    run.check(form_case("JWT client: an unknown resource", T, {**password, "resource": "https://elsewhere.example"}, 400, basic=JWT_CLIENT, error="invalid_target", valid_request=True))
    # An opaque token names no audience: its clients are answered as they always were.
    run.check(form_case("opaque client: a resource is ignored", T, {**password, "resource": "https://elsewhere.example"}, 200))
    run.check(
        Case(
            "two resources",
            "POST",
            T,
            400,
            body=urllib.parse.urlencode([*password.items(), ("resource", origin), ("resource", origin)]).encode(),
            content_type=FORM,
            basic=JWT_CLIENT,
            error="invalid_target",
        )
    )
    refreshed = run.token(
        form_case(
            "JWT client: refresh grant",
            T,
            {"grant_type": "refresh_token", "refresh_token": login.get("refresh_token", "x")},
            200,
            basic=JWT_CLIENT,
            then=jwt_is(keys, user_claims),
        )
    )
    access = refreshed.get("access_token", "missing")

    def active(reply: Reply) -> list[str]:
        body = reply.json()
        return expect(
            body.get("active") is True and body.get("client_id") == JWT_CLIENT[0] and body.get("username") == USER[0],
            f"not the JWT client's live token: {body!r}",
        )

    inactive = body_equals({"active": False})
    run.check(form_case("a live JWT access token", I, {"token": access}, 200, then=active))
    run.check(form_case("the JWT its refresh replaced", I, {"token": login.get("access_token", "x")}, 200, then=inactive))
    parts = access.split(".") if access.count(".") == 2 else ["e30", "e30", "x"]
    claims = b64url_decode(parts[1]).replace(b'"read write"', b'"read write admin"')
    widened = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    run.check(form_case("a JWT whose claims were changed", I, {"token": f"{parts[0]}.{widened}.{parts[2]}"}, 200, then=inactive))
    run.check(form_case("a token string over 4 KiB", I, {"token": "a" * 5000}, 200, then=inactive))
    run.check(form_case("revoking the JWT login", R, {"token": access, "token_type_hint": "access_token"}, 200, basic=JWT_CLIENT))
    run.check(form_case("a revoked login's JWT, whose signature still verifies", I, {"token": access}, 200, then=inactive))


# ---- the spec's own examples ------------------------------------------------------------


def example_problems(spec: Spec) -> tuple[int, list[str]]:
    """Every `example`/`examples` value next to a schema in a media type validates against it."""
    checked, problems = 0, []

    def visit(node: Any, pointer: str) -> None:
        nonlocal checked
        if isinstance(node, dict):
            if "schema" in node and ("examples" in node or "example" in node) and pointer.split("/")[-2] == "content":
                values = []
                if "example" in node:
                    values.append(("example", node["example"]))
                for name, example in (node.get("examples") or {}).items():
                    values.append((name, example.get("value")))
                for name, value in values:
                    checked += 1
                    for error in spec.errors(f"{pointer}/schema", value):
                        problems.append(f"example {name} at {pointer}: {error}")
            for key, value in node.items():
                visit(value, f"{pointer}/{pointer_escape(str(key))}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{pointer}/{index}")

    visit(spec.doc, "")
    return checked, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="openapi.yaml")
    parser.add_argument("--base-url", required=True)
    args = parser.parse_args()

    spec = Spec(args.spec)
    run = Run(spec, Client(args.base_url))

    checked, problems = example_problems(spec)
    if problems:
        run.failed += 1
        print("FAIL  the spec's examples")
        for problem in problems:
            print(f"        {problem}")
    else:
        run.passed += 1
        print(f"ok    the spec's {checked} examples validate against their schemas")

    issued = token_cases(run)
    introspection_cases(run, issued)
    revocation_cases(run, issued)
    metadata_cases(run, args.base_url)
    keys = discovery_cases(run, args.base_url)
    jwt_cases(run, args.base_url, keys)

    print(f"{run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
