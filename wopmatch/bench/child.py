"""The child process of one study cell: python -m wopmatch.bench.child CELL_JSON ALTERNATES PARENT_PID."""

import json
import sys

from ..solver import die_with_parent
from .runner import child_main

if __name__ == "__main__":
    die_with_parent(int(sys.argv[3]))  # Ctrl-C on the study ends its cell too
    print(json.dumps(child_main(json.loads(sys.argv[1]), int(sys.argv[2]))))
