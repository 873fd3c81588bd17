import { memoryStorage } from '../../src/logs/index.js';
import { storageContract } from './storage-contract.js';

storageContract('memory', () => Promise.resolve({ storage: memoryStorage(), close: () => Promise.resolve() }));
