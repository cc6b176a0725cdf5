"""Run the container entrypoint: `python -m <package>.sagemaker train|process ...`."""

import sys

from .entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
