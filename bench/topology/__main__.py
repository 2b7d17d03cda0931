import sys

from bench.topology.cluster import main

sys.exit(main())
