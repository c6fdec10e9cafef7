from codesum.cli import main

raise SystemExit(main())
