"""Copy the front-end files we serve from node_modules into src/jindu/static/vendor.

Government intranets are offline, so nothing is loaded from a CDN at run time: the files named here
come from the npm lockfile (package-lock.json) and are served by Django itself.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "jindu" / "static" / "vendor"

# (source inside node_modules, destination inside static/vendor)
FILES = [
    ("@tabler/core/dist/css/tabler.min.css", "tabler/tabler.min.css"),
    ("@tabler/core/dist/js/tabler.min.js", "tabler/tabler.min.js"),
    ("htmx.org/dist/htmx.min.js", "htmx/htmx.min.js"),
    ("echarts/dist/echarts.min.js", "echarts/echarts.min.js"),
]


def main() -> int:
    missing = [src for src, _ in FILES if not (NODE_MODULES / src).is_file()]
    if missing:
        print("vendor_static: missing in node_modules (run `npm ci`): " + ", ".join(missing), file=sys.stderr)
        return 1
    for src, dest in FILES:
        target = VENDOR / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(NODE_MODULES / src, target)
    print(f"vendor_static: {len(FILES)} files copied to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
