<?php

namespace Fastpush;

/**
 * What the framework integrations need of a publisher: Publisher (ZeroMQ,
 * php-zmq) and HttpPublisher (POST /push/publish) both are one.
 */
interface PublisherInterface
{
    /**
     * Publish one event and wait until it is accepted.
     *
     * @param string $channel
     * @param mixed  $data     any JSON value; null with a key deletes the key
     * @param array  $options  'event' (type, default "message"), 'key'
     * @return string the event's id "EPOCH-SEQ"
     * @throws FastpushException with the refusal's code
     */
    public function publish($channel, $data, array $options = []);
}
