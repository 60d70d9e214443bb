from diffkit.cli.entry import main

raise SystemExit(main())
