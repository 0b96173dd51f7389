"""Makes what a django-oauth-toolkit deployment exports, with Django's and django-oauth-toolkit's
own code, for tests/e2e/admin/migration.rs.

Runs Django in this process (minimal settings, an in-memory SQLite database), creates
applications and users through their models as a deployment would, and prints one JSON object:

  django, oauth_toolkit   the versions that made it
  dumpdata                what `manage.py dumpdata oauth2_provider.application auth.user
                          --indent 2` writes
  applications            {name: {client_id, client_secret}}, each secret in plaintext
  passwords               {username: password}
  vectors                 [{password, encoded}]: make_password results for direct checks

Every hash is made by Django's PBKDF2 hashers. Most use a subclass with 1,000 iterations, so that
the Rust tests, which verify each in a debug build, stay fast; the user "bob" and the application
"backend" use Django's default count (1,000,000 in Django 5.2), to prove compatibility at the real
cost.
"""

import io
import json
import sys

import django
from django.conf import settings

FAST_ITERATIONS = 1000

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "oauth2_provider",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    # The first hasher makes new hashes, as in a deployment whose settings list it first; the
    # others are listed so that Django (and so django-oauth-toolkit) recognises their hashes.
    PASSWORD_HASHERS=[
        "__main__.FastPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
    SECRET_KEY="tests-only",
)

from django.contrib.auth.hashers import (  # noqa: E402 (needs the settings above)
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
    make_password,
)


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's own PBKDF2-SHA256 hasher with fewer iterations; same algorithm name."""

    iterations = FAST_ITERATIONS


def main() -> None:
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oauth2_provider import __version__ as oauth_toolkit_version
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)

    default_pbkdf2 = PBKDF2PasswordHasher()
    fast_sha1 = PBKDF2SHA1PasswordHasher()

    applications = {}

    def application(name, client_type, grant, hash_secret=True, hasher=None):
        # django-oauth-toolkit generates the client id and secret; saving hashes the secret
        # unless hash_client_secret is off, or it is a hash already.
        app = Application(
            name=name,
            client_type=client_type,
            authorization_grant_type=grant,
            hash_client_secret=hash_secret,
            redirect_uris="https://app.example/callback",
        )
        secret = app.client_secret
        if hasher is not None:
            app.client_secret = hasher(secret)
        app.save()
        applications[name] = {"client_id": app.client_id, "client_secret": secret}

    confidential, public = Application.CLIENT_CONFIDENTIAL, Application.CLIENT_PUBLIC
    application("mobile", confidential, Application.GRANT_PASSWORD)
    application("legacy", confidential, Application.GRANT_PASSWORD, hash_secret=False)
    application(
        "backend",
        confidential,
        Application.GRANT_CLIENT_CREDENTIALS,
        hasher=lambda secret: make_password(secret, hasher=default_pbkdf2),
    )
    application("web", confidential, Application.GRANT_AUTHORIZATION_CODE)
    application("spa", public, Application.GRANT_PASSWORD)
    application(
        "sha1",
        confidential,
        Application.GRANT_PASSWORD,
        hasher=lambda secret: fast_sha1.encode(secret, fast_sha1.salt(), FAST_ITERATIONS),
    )

    passwords = {
        "alice": "correct horse battery staple ✓ ünïcode",
        "bob": "Tr0ub4dor&3, at Django's default cost",
        "carol": "inactive-user-password",
        "erin": "hashed-with-pbkdf2-sha1",
    }
    User.objects.create_user("alice", "alice@example.com", passwords["alice"])
    bob = User(username="bob")
    bob.password = make_password(passwords["bob"], hasher=default_pbkdf2)
    bob.save()
    User.objects.create_user("carol", password=passwords["carol"], is_active=False)
    dave = User(username="dave")
    dave.set_unusable_password()
    dave.save()
    erin = User(username="erin")
    erin.password = fast_sha1.encode(passwords["erin"], fast_sha1.salt(), FAST_ITERATIONS)
    erin.save()

    dumpdata = io.StringIO()
    call_command("dumpdata", "oauth2_provider.application", "auth.user", indent=2, stdout=dumpdata)

    fast = FastPBKDF2PasswordHasher()
    vectors = [
        {"password": password, "encoded": make_password(password)}
        for password in ["", "pässwörd ✓ 🦀", "with $ dollars and  spaces ", "x" * 300]
    ]
    vectors.append({"password": "odd salt", "encoded": fast.encode("odd salt", "ünïcode salt", FAST_ITERATIONS)})
    vectors.append({"password": "one", "encoded": fast.encode("one", "s", 1)})

    json.dump(
        {
            "django": django.get_version(),
            "oauth_toolkit": oauth_toolkit_version,
            "dumpdata": dumpdata.getvalue(),
            "applications": applications,
            "passwords": passwords,
            "vectors": vectors,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
