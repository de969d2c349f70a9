import { describe, expect, it } from '@jest/globals';
import { probeClientJob, probeServerPod, probeServerSelector } from '../../src/engine/probe.js';

const labelValue = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

function matches(selector: string, labels: Record<string, string>): boolean {
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return labels[key] === value;
  });
}

describe('probe objects', () => {
  for (const node of ['worker-1', `ip-10-0-0-1.${'very-long-subdomain.'.repeat(4)}compute.internal`]) {
    it(`have valid names and labels, and the server's selector finds it (${node.length}-character node name)`, () => {
      const server = probeServerPod(node, 'busybox:1.36');
      const job = probeClientJob({
        runOn: 'peer',
        migratedNode: node,
        image: 'busybox:1.36',
        httpTargets: ['10.244.1.5', 'fd00::5'],
        dnsNames: ['kubernetes.default'],
        suffix: 'peer',
      });
      for (const obj of [server, job]) {
        expect(obj.metadata!.name!.length).toBeLessThanOrEqual(63);
        for (const value of Object.values(obj.metadata!.labels!)) expect(value).toMatch(labelValue);
      }
      expect(server.spec.nodeName).toBe(node);
      expect(matches(probeServerSelector(node), server.metadata!.labels!)).toBe(true);
      expect(matches(probeServerSelector('another-node'), server.metadata!.labels!)).toBe(false);
      expect(job.spec.template.spec.containers[0].command[2]).toContain('http://[fd00::5]:8080/');
    });
  }
});
