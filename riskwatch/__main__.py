from riskwatch.cli import main

main()
