from agent_core.cli.app import main

main()
