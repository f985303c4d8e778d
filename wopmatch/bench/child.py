"""The child process of one study cell: python -m wopmatch.bench.child CELL_JSON ALTERNATES."""

import json
import sys

from .runner import child_main

if __name__ == "__main__":
    print(json.dumps(child_main(json.loads(sys.argv[1]), int(sys.argv[2]))))
