"""`python -m lnexp.merge --out OUT DIR [DIR ...]`: see `lnexp.ops.merge`."""
import sys

from lnexp.ops.merge import main

if __name__ == '__main__':
  sys.exit(main())
