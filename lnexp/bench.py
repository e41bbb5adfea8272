"""`python -m lnexp.bench`: see `lnexp.tools.bench`."""
import sys

from lnexp.tools import host_memory
from lnexp.tools.bench import main

if __name__ == '__main__':
  host_memory.keep_step_memory('lnexp.bench')
  sys.exit(main())
