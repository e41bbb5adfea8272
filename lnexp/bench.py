"""`python -m lnexp.bench`: see `lnexp.ops.bench`."""
import sys

from lnexp.ops.bench import main
from lnexp.runtime import host_memory

if __name__ == '__main__':
  host_memory.keep_step_memory('lnexp.bench')
  sys.exit(main())
