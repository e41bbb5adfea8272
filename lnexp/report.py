"""`python -m lnexp.report`: see `lnexp.analysis.report`."""
import sys

if __name__ == '__main__':
  try:
    from lnexp.analysis.report import main
  except ImportError as e:  # pandas, matplotlib, pyarrow: the [report] extra
    print(f'lnexp.report: error: {e} (pip install "lnexp[report]")', file=sys.stderr)
    sys.exit(2)
  sys.exit(main())
