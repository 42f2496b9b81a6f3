"""Expand a Tempita template (csrc/*.pyx.tp) into Cython source: tempita.py IN OUT."""

import sys

from Cython import Tempita

source, target = sys.argv[1], sys.argv[2]
with open(source, encoding="utf-8") as f:
    text = Tempita.sub(f.read())
with open(target, "w", encoding="utf-8") as f:
    f.write(text)
