// Type definitions for fastpush.js (the fastpush browser client).
// As a plain <script> it defines the global `Fastpush`; as an ES module
// use fastpush.mjs (typed by fastpush.d.mts).  See README.md.

export = Fastpush;
export as namespace Fastpush;

declare class Fastpush {
    constructor(options: Fastpush.Options);

    /** The options in force (defaults filled in). */
    readonly options: Required<Fastpush.Options>;
    /** "EPOCH-SEQ": every event of the channels up to here was delivered;
     *  null until known ("earliest" when asked to start there). */
    readonly cursor: string | null;
    /** The current status (a copy). */
    readonly status: Fastpush.Status;

    /** Listen; returns a function that removes the listener. */
    on(type: "event", fn: (ev: Fastpush.Event) => void): () => void;
    on(type: "reset", fn: (reset: Fastpush.Reset) => void): () => void;
    on(type: "status", fn: (status: Fastpush.Status) => void): () => void;
    on(type: "error", fn: (err: Fastpush.Error) => void): () => void;
    /** Presence: a member list came (on connecting, and after every reconnect). */
    on(type: "subscribed", fn: (x: { channel: string; members: Fastpush.Members }) => void): () => void;
    /** Presence: a user came (its first connection) or left (its last). */
    on(type: "member_added" | "member_removed", fn: (m: Fastpush.MemberEvent) => void): () => void;
    off(type: "event" | "reset" | "status" | "error" | "subscribed" | "member_added" |
        "member_removed", fn: (arg: any) => void): void;

    /** The members of a presence channel this client follows (the same
     *  object, kept current), or null for any other channel. */
    members(channel: string): Fastpush.Members | null;

    /** Publish over the WebSocket when connected by one (and the bridge
     *  allows it), else with POST {pushPath}/publish; a follower tab asks
     *  the leader.  Rejects with a Fastpush.Error carrying the server's code. */
    publish(channel: string, data: unknown, options?: Fastpush.PublishOptions): Promise<Fastpush.Published>;

    /** Disconnect and stop; another tab takes over if this one led. */
    close(): void;

    /** The transports this build knows: ["websocket", "sse", "poll"]. */
    static readonly TRANSPORTS: Fastpush.Transport[];
    static readonly version: string;
}

declare namespace Fastpush {
    type Transport = "websocket" | "sse" | "poll";

    interface Options {
        /** Channels to follow (at least one). */
        channels: string[];
        /** scheme://host[:port][/prefix] of the server; default: this page's origin. */
        url?: string;
        /** A token (JWT) sent as "Authorization: Bearer" (SSE, polling, HTTP
         *  publish) or ?access_token= (WebSocket); a function is asked
         *  again before every connection, so it can hand out a fresh one. */
        token?: string | null | (() => string | null | Promise<string | null>);
        /** Where to start: null = now, "earliest" = all history, or "EPOCH-SEQ". */
        cursor?: string | null;
        /** Transports in order of preference (default all three). */
        transports?: Transport[];
        wsPath?: string;            // "/ws"
        ssePath?: string;           // "/events"
        pushPath?: string;          // "/push": poll, publish
        /** Share one connection among the tabs of the origin (default
         *  true); a string names the group. */
        share?: boolean | string;
        /** How publish() sends: "auto" (default), "http" or "websocket". */
        publish?: "auto" | "http" | "websocket";
        /** X-Fastpush-Secret for HTTP publish: demos only; real sites keep
         *  it on the server or use tokens. */
        publishSecret?: string | null;
        /** ms for a transport's first sign of life and its ready (10000). */
        openTimeout?: number;
        /** ms of silence that count as a dead connection (45000). */
        silenceTimeout?: number;
        /** WebSocket: ms of quiet before a ping (20000). */
        pingInterval?: number;
        /** s a long-poll may wait (25). */
        pollWait?: number;
        /** events per poll answer (500). */
        pollLimit?: number;
        /** ms between tries of a better transport (30000). */
        upgradeInterval?: number;
        /** reconnect delay: [first, largest] ms, doubled per failure, with jitter ([500, 30000]). */
        backoff?: [number, number];
        /** BroadcastChannel election: ms of leader silence before taking over (3000). */
        leaderTimeout?: number;
        /** Presence: this page's user for members.me when the token does
         *  not say (default: the token's sub). */
        userId?: string | null;
    }

    /** A member of a presence channel: its user_id and user_info. */
    interface Member {
        id: string;
        info: unknown;
    }

    interface MemberEvent extends Member {
        channel: string;
    }

    /** Who is on a presence channel (like pusher-js's channel.members). */
    interface Members {
        readonly channel: string;
        /** Users on the channel, each counted once. */
        readonly count: number;
        /** False until the first member list came. */
        readonly subscribed: boolean;
        /** This page's user (options.userId or the token's sub), if known. */
        readonly me: Member | null;
        get(id: string): Member | null;
        each(fn: (m: Member) => void): void;
        toArray(): Member[];
    }

    /** An event, as every transport delivers it. */
    interface Event {
        id: string;                 // "EPOCH-SEQ"
        seq: number;
        prev: number;               // SEQ of the channel's previous event
        channel: string;
        event: string;              // the type, "message" by default
        key?: string;               // keyed (compacted) channels
        ts: number;                 // ms since 1970, when the broker took it
        data: unknown;              // null with a key: the key was removed
        /** Part of a keyed snapshot after a reset: replaces the channel's keyed state. */
        snapshot?: true;
    }

    /** History could not cover the cursor on a channel: events may be
     *  missing, reload that channel's state.  With snapshot, the latest
     *  event per key follows (as events with snapshot: true). */
    interface Reset {
        channel: string;
        reason: "epoch" | "trimmed" | "ahead" | string;
        snapshot: boolean;
    }

    interface Status {
        transport: Transport | null;
        connected: boolean;
        cursor: string | null;
        /** "leader": this tab holds the connection; "follower": another
         *  tab does and relays; "solo": sharing is off. */
        role: "leader" | "follower" | "solo" | null;
        /** Why the last connection failed, or null. */
        error: string | null;
    }

    interface PublishOptions {
        event?: string;
        key?: string;
        via?: "auto" | "http" | "websocket";
    }

    interface Published {
        id: string;
        via: "websocket" | "http";
    }

    interface Error extends globalThis.Error {
        /** The server's code (invalid_event, forbidden, unauthorized, ...)
         *  or the client's: timeout, closed, not_connected, http_NNN. */
        code: string;
        status?: number;
    }
}
