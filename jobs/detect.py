"""spark-submit / Databricks launcher: `spark-submit jobs/detect.py --env cluster`."""

import sys

from reconnect.cli import main

if __name__ == "__main__":
    sys.exit(main(["detect", *sys.argv[1:]]))
