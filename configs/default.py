"""The seed article's model: post-LN LayerNorm, ALBERT sharing, synthetic data.

  python -m lnexp.run --config configs/default.py

About a minute on a 2-core CPU (4 shared layers, hidden 128, 300 steps of
32x128 tokens). Expect the eval loss to fall from ~ln(35)=3.56 to ~2.6, well
below the unigram entropy (3.52) and near the language's entropy floor (2.47).
"""
from lnexp.config import base_config


def get_config():
  return base_config()
