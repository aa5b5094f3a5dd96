from spoolwatch.cli import main

main()
