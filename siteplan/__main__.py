from siteplan.cli import main

main()
