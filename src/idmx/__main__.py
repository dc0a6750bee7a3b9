from idmx.cli import main

main()
