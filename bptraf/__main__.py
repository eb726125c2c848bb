from bptraf.cli import main

raise SystemExit(main())
