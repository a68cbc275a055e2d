from jindu.cli import main

raise SystemExit(main())
