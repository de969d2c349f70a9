// iptables-save text, as the host-script and namespace-node suites write and read it.

/** Chain names of an iptables-save dump (its ":CHAIN POLICY [p:b]" lines). */
export function chainNames(dump: string): string[] {
  return [...dump.matchAll(/^:(\S+)/gm)].map((m) => m[1]);
}

/**
 * A subset of Felix's iptables rules, for iptables-restore --noflush: its own chains, reached from the built-in ones.
 */
export const FELIX_RULES = `*filter
:cali-FORWARD - [0:0]
:cali-from-hep-forward - [0:0]
:cali-INPUT - [0:0]
-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A cali-FORWARD -m comment --comment "cali:vjrMJCRpqwy5oRoX" -j cali-from-hep-forward
-A cali-FORWARD -m comment --comment "cali:A_sPAO0mcxbT9mOV" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-INPUT -p udp -m comment --comment "cali:J76FwxInZIsk7uKY" -m udp --dport 4789 -j ACCEPT
COMMIT
*nat
:cali-POSTROUTING - [0:0]
:cali-nat-outgoing - [0:0]
-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-nat-outgoing
-A cali-nat-outgoing -s 10.244.0.0/16 ! -d 10.244.0.0/16 -m comment --comment "cali:flqWnvo8yq4ULQLa" -j MASQUERADE --random-fully
COMMIT
`;
