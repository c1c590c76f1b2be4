from sm_byo.cli import main

main()
