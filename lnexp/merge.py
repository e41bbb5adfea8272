"""`python -m lnexp.merge --out OUT DIR [DIR ...]`: see `lnexp.tools.merge`."""
import sys

from lnexp.tools.merge import main

if __name__ == '__main__':
  sys.exit(main())
