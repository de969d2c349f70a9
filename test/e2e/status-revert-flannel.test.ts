import { statusRevertScenario } from './status-revert-scenario.js';

statusRevertScenario('flannel');
