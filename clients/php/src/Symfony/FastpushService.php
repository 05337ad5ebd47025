<?php

namespace Fastpush\Symfony;

use Fastpush\PublisherInterface;
use Fastpush\TokenIssuer;

/**
 * The service a Symfony application injects (examples/symfony/config/
 * services.yaml wires it from .env): publish events, issue channel
 * tokens.  Nothing in it needs Symfony; it is where the services.yaml
 * example points.
 *
 *     public function __construct(private FastpushService $fastpush) {}
 *     $this->fastpush->publish('orders', ['id' => 5], 'order.shipped');
 *     $jwt = $this->fastpush->token($user->getUserIdentifier(), ['user.{sub}']);
 */
class FastpushService
{
    private $publisher;
    private $tokens;

    public function __construct(PublisherInterface $publisher, TokenIssuer $tokens = null)
    {
        $this->publisher = $publisher;
        $this->tokens = $tokens;
    }

    /**
     * Publish and wait for the broker (or fastpush-poll).
     *
     * @return string the event's id "EPOCH-SEQ"
     * @throws \Fastpush\FastpushException with the refusal's code
     */
    public function publish($channel, $data, $event = null, $key = null)
    {
        $options = [];
        if ($event !== null)
            $options['event'] = $event;
        if ($key !== null)
            $options['key'] = $key;
        return $this->publisher->publish($channel, $data, $options);
    }

    /**
     * A channel token for user $sub (see Fastpush\TokenIssuer::issue()).
     *
     * @throws \LogicException when no jwt-key is configured
     */
    public function token($sub, array $subscribe, array $publish = [])
    {
        if ($this->tokens === null)
            throw new \LogicException('fastpush: no jwt_key or jwt_key_file configured');
        return $this->tokens->issue($sub, $subscribe, $publish);
    }

    /** @return int the lifetime of the tokens, seconds */
    public function tokenTtl()
    {
        return $this->tokens === null ? 0 : $this->tokens->ttl();
    }

    /** @return PublisherInterface */
    public function publisher()
    {
        return $this->publisher;
    }
}
