// The worker's workflowsPath: re-exports only.
export * from './release';
export * from './scenario-approver';
