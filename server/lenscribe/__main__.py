from lenscribe.cli import main

raise SystemExit(main())
