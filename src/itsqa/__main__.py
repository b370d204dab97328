from itsqa.cli import main

main()
