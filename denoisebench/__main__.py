from denoisebench.cli import main

raise SystemExit(main())
