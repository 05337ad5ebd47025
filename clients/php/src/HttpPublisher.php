<?php

namespace Fastpush;

/**
 * Publish events over HTTP: POST /push/publish on fastpush-poll, behind the
 * site's web server, for hosts without php-zmq.
 *
 *     $pub = new Fastpush\HttpPublisher([
 *         'url'     => 'http://127.0.0.1/push/publish',
 *         'secret'  => 'the publish-secret',   // header X-Fastpush-Secret
 *         'timeout' => 3.0,                    // seconds
 *     ]);
 *     $id = $pub->publish('news', ['title' => 'Hello']);   // "EPOCH-SEQ"
 *
 * fastpush-poll answers 202 with the id once the broker accepted the event,
 * or refuses with a status and {"error": CODE, "message": TEXT}: the
 * FastpushException carries both (getErrorCode(), getStatus()), e.g. 403
 * "forbidden" (wrong secret), 403 "publish_disabled" (no publish-secret
 * and auth off), 400 "invalid_event", 413 "too_large", 503 "timeout".
 * Without an answer the code is "timeout" or "broker_unavailable" (the web
 * server could not be reached), status 0.  Instead of the secret, 'bearer'
 * sends a token with a publish right (Authorization: Bearer).
 *
 * Uses the curl extension when it is loaded, else PHP's http stream.
 */
class HttpPublisher implements PublisherInterface
{
    private $url;
    private $secret = null;
    private $bearer = null;
    private $timeout;
    private $curl;
    private $handle = null;

    /**
     * @param array $options 'url' (of /push/publish), 'secret' (the
     *     publish-secret), 'bearer' (a token with a publish right),
     *     'timeout' (seconds, 3.0), 'curl' (false: use the http stream
     *     even when the curl extension is loaded)
     */
    public function __construct(array $options = [])
    {
        $this->url = isset($options['url']) ? (string) $options['url']
                                            : 'http://127.0.0.1/push/publish';
        if (!preg_match('#\Ahttps?://#i', $this->url))
            throw new \InvalidArgumentException("{$this->url}: not an http(s) URL");
        if (isset($options['secret']) && $options['secret'] !== '')
            $this->secret = (string) $options['secret'];
        if (isset($options['bearer']) && $options['bearer'] !== '')
            $this->bearer = (string) $options['bearer'];
        $this->timeout = isset($options['timeout']) ? (float) $options['timeout']
                                                    : 3.0;
        $this->curl = function_exists('curl_init')
            && (!isset($options['curl']) || $options['curl']);
    }

    /**
     * Publish and wait for fastpush-poll's answer.
     *
     * @param string $channel
     * @param mixed  $data     any JSON value; null with a key deletes the key
     * @param array  $options  'event' (type, default "message"), 'key'
     * @return string the event's id "EPOCH-SEQ"
     * @throws FastpushException with the code and the HTTP status
     */
    public function publish($channel, $data, array $options = [])
    {
        $body = Event::encode(Event::make($channel, $data, $options));
        $headers = ['Content-Type: application/json',
                    'Accept: application/json'];
        if ($this->secret !== null)
            $headers[] = 'X-Fastpush-Secret: ' . $this->secret;
        if ($this->bearer !== null)
            $headers[] = 'Authorization: Bearer ' . $this->bearer;
        list($status, $reply) = $this->curl ? $this->postCurl($headers, $body)
                                            : $this->postStream($headers, $body);
        $json = json_decode($reply, true);
        if ($status >= 200 && $status < 300) {
            if (!is_array($json) || !isset($json['id']) || !is_string($json['id']))
                throw new FastpushException('bad_reply', "HTTP $status from "
                    . "{$this->url} without an event id", $status);
            return $json['id'];
        }
        if (is_array($json) && isset($json['error']) && is_string($json['error']))
            throw new FastpushException($json['error'], isset($json['message'])
                ? (string) $json['message'] : "HTTP $status", $status);
        throw new FastpushException('bad_reply', "HTTP $status from {$this->url}"
            . " (not a fastpush answer: is the URL /push/publish?)", $status);
    }

    /** [status, body] with the curl extension. */
    private function postCurl(array $headers, $body)
    {
        if ($this->handle === null)
            $this->handle = curl_init();     // kept: the connection is reused
        $h = $this->handle;
        curl_setopt_array($h, [
            CURLOPT_URL => $this->url,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil($this->timeout * 1000),
            CURLOPT_TIMEOUT_MS => (int) ceil($this->timeout * 1000),
        ]);
        $reply = curl_exec($h);
        if ($reply === false) {
            $errno = curl_errno($h);
            $code = $errno == CURLE_OPERATION_TIMEDOUT ? 'timeout' : 'broker_unavailable';
            throw new FastpushException($code, "POST {$this->url}: "
                . curl_error($h) . ($code === 'timeout'
                    ? ' (the event may have been published)' : ''));
        }
        return [(int) curl_getinfo($h, CURLINFO_RESPONSE_CODE), $reply];
    }

    /** [status, body] with PHP's http stream wrapper. */
    private function postStream(array $headers, $body)
    {
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => implode("\r\n", $headers),
            'content' => $body,
            'timeout' => $this->timeout,
            'ignore_errors' => true,        // read the body of a 4xx/5xx
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ]]);
        $error = null;
        set_error_handler(function ($no, $text) use (&$error) {
            $error = $text;
            return true;
        });
        $start = microtime(true);
        try {
            $reply = file_get_contents($this->url, false, $context);
        } finally {
            restore_error_handler();
        }
        $lines = isset($http_response_header) ? $http_response_header : [];
        if ($reply === false || !$lines
            || !preg_match('#\AHTTP/\S+\s+(\d{3})#', $lines[0], $m)) {
            $timedOut = microtime(true) - $start >= $this->timeout;
            throw new FastpushException($timedOut ? 'timeout' : 'broker_unavailable',
                "POST {$this->url}: " . ($error !== null ? $error : 'no answer')
                . ($timedOut ? ' (the event may have been published)' : ''));
        }
        return [(int) $m[1], $reply];
    }
}
