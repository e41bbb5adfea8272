"""`python -m lnexp.report`: see `lnexp.analysis.report`."""
import sys

try:
  from lnexp.analysis.report import main
except ImportError as e:  # pandas, matplotlib, pyarrow: the [report] extra
  if __name__ != '__main__':
    raise
  print(f'lnexp.report: error: {e} (pip install "lnexp[report]")', file=sys.stderr)
  sys.exit(2)

if __name__ == '__main__':
  sys.exit(main())
