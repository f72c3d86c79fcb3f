// How a release meets a deploy of new workflow code (Worker Versioning). A release lasts eight days or
// more (an approval may wait for weeks), so it auto-upgrades: at its next workflow task it moves to the
// build made current, and every change to the workflow's commands is behind patched(), which the replay
// histories in CI check. Pinning would keep every old build running until its last release ends, and
// would keep a fix to the rollback from reaching the releases that need it.
import type { VersioningBehavior } from '@temporalio/common';

export const RELEASE_VERSIONING: VersioningBehavior = 'AUTO_UPGRADE';
