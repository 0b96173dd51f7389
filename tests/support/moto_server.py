"""Runs moto's DynamoDB-compatible server on 127.0.0.1 for the test suite.

Prints the port on the first line of stdout, then serves until its standard input closes,
which happens when the test process that started it exits, however it exits.

Requests are served one at a time. moto runs each request on its own thread without
isolating transactions: a TransactWriteItems that fails rolls back by restoring a snapshot of
the whole table taken when it started, which silently undoes any write that committed in the
meantime (seen here as two winners of one refresh token). DynamoDB isolates transactions
(serialisable against other writes to the same items), so serialising moto's requests is what
makes it a faithful stand-in.
"""

import sys
import threading

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_request_at_a_time = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    with _one_request_at_a_time:
        return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serialised


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
