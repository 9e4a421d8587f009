"""Checkpoints: the workspace is snapshotted around every agent turn, so a turn can be undone.

Snapshots live in a shadow git repository outside the workspace (one per workspace, under the
user data dir), driven with `--git-dir`/`--work-tree` and its own index. Snapshots only read
the user's repository: each records its git state (refs, HEAD, the stash, the index,
`info/exclude`) and copies the objects these need into the shadow repository (`git_state`).
Undo puts back what the turn changed there and nothing else (`git_restore`): refs, stash
entries and staged entries the user changed later stay as they are. Config and hooks are
never written; only the optional auto-commit commits in their repository.

Every snapshot is a commit on one ref of the shadow repository; what it is (before, after,
undo-safety, undo), its turn and its label are trailers of the commit message, so the history
alone is the whole state and a crash at any point leaves it consistent.

Covered: every file git would see as untracked or tracked in the workspace. Not covered: files
ignored by `.gitignore`, `.git/info/exclude` (copied into the shadow repository when the
workspace is the top of a git repository) or the global excludes file, and whatever is inside
nested git repositories or submodules. Undo neither restores nor deletes those.

Each turn also compares the git repositories below the workspace's top (and the submodule
entries of the user's index) at its first change and at its end: one made or changed by the
turn is said once (`nested_repos`), since the person's own git there would run its config.

The modules: `store` (the `Checkpoints` API), `records` (what it returns and raises),
`shadow` (the shadow repository), `user_repo` (the user's repository and index), `restore`
(writing files back), `git_state` and `git_restore` (the user's git state, recorded and put
back), `git_reads` (the index and refs, listed again only when their files changed),
`nested_repos`, `git_env` (how git is run: environment and config), `lock`.
"""
