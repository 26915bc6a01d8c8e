from dcos_core.entrypoints import main

main()
