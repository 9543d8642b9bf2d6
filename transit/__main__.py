from transit.cli import console_main

console_main()
