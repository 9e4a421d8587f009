"""MCP servers as tools: a client on the official `mcp` SDK.

`manager.McpManager` runs every server's session on one background event loop; `tools` makes
their tools registry tools; `listing` says what runs. Importing this package stays cheap: the
SDK loads only when a server starts.
"""
