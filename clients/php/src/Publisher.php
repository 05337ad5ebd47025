<?php

namespace Fastpush;

/**
 * Publish events to a fastpush broker over ZeroMQ (php-zmq).
 *
 *     use Fastpush\Publisher;              // Composer, or require autoload.php
 *     $pub = new Publisher([
 *         'control' => 'tcp://127.0.0.1:7401',    // acknowledged publishes
 *         'ingest'  => 'tcp://127.0.0.1:7400',    // fire and forget
 *         'timeout' => 3.0,                       // seconds
 *     ]);
 *     $id = $pub->publish('news', ['title' => 'Hello']);     // "EPOCH-SEQ"
 *     $pub->publish('prices', 1.0841, ['key' => 'EURUSD', 'event' => 'tick']);
 *     $pub->publishAsync('news', 'fire and forget');
 *
 * publish() waits for the broker, which numbers the event and answers with
 * its id or refuses it with an error code (FastpushException::getErrorCode(),
 * e.g. "invalid_event", "too_large").  publishAsync() pushes the event to the
 * broker's ingest socket without waiting; the broker drops invalid ones, so
 * the names are checked here first.  The wire format is in docs/protocol.md.
 *
 * A broker that authenticates publishers (docs/security.md) needs its
 * publish token, its CURVE keys, or both:
 *
 *     $pub = new Publisher([
 *         'token'             => 'the-publish-token',  // a last frame
 *         'curve_server_cert' => '/etc/fastpush/broker',      // public
 *         'curve_client_cert' => '/etc/fastpush/app_secret',  // secret
 *     ]);
 *
 * (the certificate files as `fastpush keygen` writes them; php-zmq must be
 * built with CURVE, as Debian's is).
 *
 * Works with PHP 7.0 and later.  Hosts without php-zmq publish over HTTP
 * with HttpPublisher instead.
 */
class Publisher implements PublisherInterface
{
    const RESERVED_TYPES = Event::RESERVED_TYPES;

    private $control;
    private $ingest;
    private $timeout;
    private $context;
    private $dealer = null;
    private $push = null;
    private $tag = 0;
    private $token = null;
    private $curve = null;

    /**
     * @param array $options 'control', 'ingest' (ZeroMQ endpoints),
     *     'timeout' (seconds, 3.0), 'context' (a \ZMQContext to share),
     *     'token' (the broker's publish-token), 'curve_server_cert' and
     *     'curve_client_cert' (certificate files, for a CURVE broker)
     */
    public function __construct(array $options = [])
    {
        $this->control = isset($options['control']) ? $options['control']
                                                    : 'tcp://127.0.0.1:7401';
        $this->ingest = isset($options['ingest']) ? $options['ingest']
                                                  : 'tcp://127.0.0.1:7400';
        $this->timeout = isset($options['timeout']) ? (float) $options['timeout']
                                                    : 3.0;
        $this->context = isset($options['context']) ? $options['context']
                                                    : new \ZMQContext(1, false);
        if (isset($options['token']) && $options['token'] !== '')
            $this->token = (string) $options['token'];
        if (isset($options['curve_server_cert']) || isset($options['curve_client_cert'])) {
            $server = self::loadCert($options['curve_server_cert']);
            $mine = self::loadCert($options['curve_client_cert']);
            if (!isset($mine['secret-key']))
                throw new \InvalidArgumentException(
                    "{$options['curve_client_cert']}: not a secret certificate");
            $this->curve = [$server['public-key'], $mine['public-key'],
                            $mine['secret-key']];
        }
    }

    /**
     * Close the sockets (queued async events get `timeout` seconds to
     * leave).  The publisher opens them again if used after.
     */
    public function close()
    {
        $this->dealer = null;
        $this->push = null;
    }

    /** Sockets before their context: a context freed first blocks exit. */
    public function __destruct()
    {
        $this->close();
    }

    /** The keys of a czmq certificate file: ['public-key' => Z85, ...]. */
    private static function loadCert($path)
    {
        $text = @file_get_contents((string) $path);
        if ($text === false
            || !preg_match('/^\s*public-key\s*=\s*"([^"]{40})"/m', $text, $m))
            throw new \InvalidArgumentException("$path: not a CURVE certificate");
        $keys = ['public-key' => $m[1]];
        if (preg_match('/^\s*secret-key\s*=\s*"([^"]{40})"/m', $text, $m))
            $keys['secret-key'] = $m[1];
        return $keys;
    }

    /** The frames of a message: the payload frames, then the token. */
    private function frames(array $frames)
    {
        if ($this->token !== null)
            $frames[] = $this->token;
        return $frames;
    }

    /**
     * Publish and wait for the broker.
     *
     * @param string $channel
     * @param mixed  $data     any JSON value; null with a key deletes the key
     * @param array  $options  'event' (type, default "message"), 'key'
     * @return string the event's id "EPOCH-SEQ"
     * @throws FastpushException with the broker's code
     */
    public function publish($channel, $data, array $options = [])
    {
        $meta = $this->request('PUBLISH', Event::make($channel, $data, $options));
        return $meta['id'];
    }

    /**
     * Send without waiting for an answer (no id).  Names are checked here.
     *
     * @throws FastpushException "invalid_event" or "broker_unavailable"
     */
    public function publishAsync($channel, $data, array $options = [])
    {
        $event = Event::make($channel, $data, $options);
        Event::check($event);
        $this->pushSend(Event::encode($event));
    }

    /**
     * Send several events in one message: a list of arrays with 'channel',
     * 'data' and optionally 'event' and 'key'.
     */
    public function publishBatchAsync(array $events)
    {
        $list = [];
        foreach ($events as $e) {
            $event = Event::make(isset($e['channel']) ? $e['channel'] : null,
                                 isset($e['data']) ? $e['data'] : null, $e);
            Event::check($event);
            $list[] = $event;
        }
        $this->pushSend(Event::encode($list));
    }

    /**
     * Send COMMAND with a body on the control socket and return the reply's
     * META as an array (the events of SINCE and STATE are in
     * $meta['events']).
     *
     * @throws FastpushException
     */
    public function request($command, array $body = [])
    {
        if ($this->dealer === null)
            $this->dealer = $this->socket(\ZMQ::SOCKET_DEALER, $this->control);
        $tag = ++$this->tag;
        $body['tag'] = $tag;
        try {
            $sent = $this->dealer->sendMulti($this->frames([$command,
                                                            Event::encode($body)]));
        } catch (\ZMQSocketException $e) {
            $sent = false;
        }
        if ($sent === false)
            throw new FastpushException('broker_unavailable',
                "cannot reach the broker at {$this->control}");
        $deadline = microtime(true) + $this->timeout;
        $poll = new \ZMQPoll();
        $poll->add($this->dealer, \ZMQ::POLL_IN);
        $readable = $writable = [];
        while (($left = $deadline - microtime(true)) > 0) {
            if ($poll->poll($readable, $writable, (int) ceil($left * 1000)) == 0)
                break;
            $frames = $this->dealer->recvMulti();
            $meta = count($frames) >= 2 ? json_decode($frames[1], true) : null;
            if (!is_array($meta))
                throw new FastpushException('bad_reply',
                                            'malformed reply from the broker');
            if (!isset($meta['tag']) || $meta['tag'] !== $tag)
                continue;   // a late answer to an earlier, timed-out request
            if ($frames[0] !== 'OK')
                throw new FastpushException(
                    isset($meta['error']) ? $meta['error'] : 'bad_reply',
                    isset($meta['message']) ? $meta['message'] : '');
            $meta['events'] = [];
            foreach (array_slice($frames, 2) as $frame)
                foreach (explode("\n", $frame) as $line)
                    if ($line !== '')
                        $meta['events'][] = json_decode($line, true);
            return $meta;
        }
        throw new FastpushException('timeout', "no answer from the broker at "
            . "{$this->control} within {$this->timeout} s (the event may have "
            . "been published)");
    }

    private function socket($type, $endpoint)
    {
        $ms = (int) ($this->timeout * 1000);
        $s = $this->context->getSocket($type);
        $s->setSockOpt(\ZMQ::SOCKOPT_LINGER, $type == \ZMQ::SOCKET_PUSH ? $ms : 0);
        $s->setSockOpt(\ZMQ::SOCKOPT_SNDTIMEO, $ms);
        $s->setSockOpt(\ZMQ::SOCKOPT_IMMEDIATE, 1);
        if ($this->curve !== null) {
            $s->setSockOpt(\ZMQ::SOCKOPT_CURVE_SERVERKEY, $this->curve[0]);
            $s->setSockOpt(\ZMQ::SOCKOPT_CURVE_PUBLICKEY, $this->curve[1]);
            $s->setSockOpt(\ZMQ::SOCKOPT_CURVE_SECRETKEY, $this->curve[2]);
        }
        $s->connect($endpoint);
        return $s;
    }

    private function pushSend($payload)
    {
        if ($this->push === null)
            $this->push = $this->socket(\ZMQ::SOCKET_PUSH, $this->ingest);
        try {
            $sent = $this->push->sendMulti($this->frames([$payload]));
        } catch (\ZMQSocketException $e) {
            $sent = false;
        }
        if ($sent === false)
            throw new FastpushException('broker_unavailable',
                "cannot reach the broker at {$this->ingest}");
    }
}
