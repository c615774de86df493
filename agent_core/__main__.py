from agent_core.cli import main

main()
