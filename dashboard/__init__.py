"""The Streamlit control room: reads events; writes runs, commands and decisions via storage."""
