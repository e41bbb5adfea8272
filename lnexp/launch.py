"""`python -m lnexp.launch`: see `lnexp.tools.launch`."""
import sys

from lnexp.tools.launch import main

if __name__ == '__main__':
  sys.exit(main())
