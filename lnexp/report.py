"""`python -m lnexp.report`: see `lnexp.analysis.report`."""
import sys

from lnexp.analysis.report import main

if __name__ == '__main__':
  sys.exit(main())
