"""A bare pyftpdlib server for the FTP benchmark's baseline, in a process of its own (as
``aqm ftp`` is): one account per station, files written and nothing else.

``python -m bench.bare_ftp_server ROOT PORT PASSWORD STATION...``
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main() -> None:
    root, port, password, *stations = sys.argv[1:]
    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    for sid in stations:
        (Path(root) / sid).mkdir(parents=True, exist_ok=True)
        authorizer.add_user(sid, password, str(Path(root) / sid), perm="elmw")
    FTPHandler.authorizer = authorizer
    FTPServer(("127.0.0.1", int(port)), FTPHandler).serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
