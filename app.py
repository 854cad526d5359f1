"""Launch the streaming assistant: `python app.py --help` lists the options."""

import sys

from assistant.app.server import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
