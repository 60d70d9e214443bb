from diffkit.cli.main import main

raise SystemExit(main())
