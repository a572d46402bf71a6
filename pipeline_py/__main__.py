from pipeline_py.cli import main

raise SystemExit(main())
