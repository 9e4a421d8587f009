"""Safety rules: which shell commands and file paths ask, are refused, or run; secrets.

`checker.dangerous_command` is the entry point for shell commands. It reads the line with
`shell_syntax`, finds the command under wrappers (`wrappers`), and applies the rules per
command (`commands`, `git`, `interpreters`) to the paths they touch (`paths`).
`secrets.secret_reason` says which files look like they hold secrets, and
`secrets.redact_credentials` hides credentials written into URLs and headers.
"""
