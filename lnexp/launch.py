"""`python -m lnexp.launch`: see `lnexp.ops.launch`."""
import sys

from lnexp.ops.launch import main

if __name__ == '__main__':
  sys.exit(main())
